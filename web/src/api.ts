/** Talks to /api with the session cookie, echoing the CSRF token on writes. */

let csrf = sessionStorage.getItem('fd_csrf') ?? '';

export class ApiError extends Error {
  constructor(readonly status: number, message: string, readonly fields: { path: string; message: string }[] = [], readonly body: Record<string, unknown> = {}) {
    super(message);
  }
}

/** The server did not answer (down, restarting, network gone): not the same as being signed out. */
export class UnreachableError extends ApiError {
  constructor() {
    super(0, 'The frontdesk server cannot be reached.');
  }
}

const listeners = new Set<(up: boolean) => void>();
/** Called with false when a request finds the server unreachable, true when one gets through again. */
export function onReachability(fn: (up: boolean) => void): void {
  listeners.add(fn);
}
const reach = (up: boolean) => listeners.forEach((fn) => fn(up));

export async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`/api${path}`, {
      method,
      credentials: 'same-origin',
      headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(method !== 'GET' ? { 'x-csrf-token': csrf } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch {
    reach(false);
    throw new UnreachableError();
  }
  // A proxy in front answers 502/503/504 while frontdesk is down.
  if (res.status === 502 || res.status === 503 || res.status === 504) {
    reach(false);
    throw new UnreachableError();
  }
  reach(true);
  const data = res.headers.get('content-type')?.includes('json') ? await res.json() as Record<string, unknown> : undefined;
  if (!res.ok) throw new ApiError(res.status, (data?.message as string | undefined) ?? res.statusText, (data?.fields as never[] | undefined) ?? [], data ?? {});
  return data as T;
}

export async function login(username: string, password: string): Promise<void> {
  const r = await api<{ csrfToken: string }>('POST', '/auth/login', { username, password });
  csrf = r.csrfToken;
  sessionStorage.setItem('fd_csrf', csrf);
}

export async function logout(): Promise<void> {
  await api('POST', '/auth/logout');
  csrf = '';
  sessionStorage.removeItem('fd_csrf');
}

/** The signed-in user; undefined when signed out. Throws UnreachableError when the server is down. */
export async function me(): Promise<{ username: string; csrfToken: string | null } | undefined> {
  try {
    const r = await api<{ username: string; csrfToken: string | null }>('GET', '/auth/me');
    if (r.csrfToken) {
      csrf = r.csrfToken;
      sessionStorage.setItem('fd_csrf', csrf);
    }
    return r;
  } catch (e) {
    if (e instanceof ApiError && (e.status === 401 || e.status === 403)) return undefined;
    throw e;
  }
}
