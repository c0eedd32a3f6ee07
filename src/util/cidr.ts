import ipaddr from 'ipaddr.js';

export type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

const LOOPBACK = ['127.0.0.0/8', '::1/128'];

/** Parses CIDRs (a bare address means /32 or /128); loopback is always included. */
export function parseCidrList(list: readonly string[]): Cidr[] {
  const out: Cidr[] = [];
  for (const raw of [...LOOPBACK, ...list]) {
    const item = raw.trim();
    if (!item) continue;
    try {
      out.push(item.includes('/') ? ipaddr.parseCIDR(item) : toHostCidr(ipaddr.parse(item)));
    } catch {
      throw new Error(`${JSON.stringify(item)} is not an IP address or CIDR`);
    }
  }
  return out;
}

function toHostCidr(addr: ipaddr.IPv4 | ipaddr.IPv6): Cidr {
  return [addr, addr.kind() === 'ipv4' ? 32 : 128];
}

/** True when `address` (v4, v6 or v4-mapped v6) falls inside one of the ranges. */
export function cidrContains(ranges: readonly Cidr[], address: string): boolean {
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    addr = ipaddr.process(address);
  } catch {
    return false;
  }
  return ranges.some(([net, bits]) => addr.kind() === net.kind() && addr.match(net, bits));
}
