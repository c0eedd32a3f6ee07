/** Talks to /api with the session cookie, echoing the CSRF token on writes. */

let csrf = sessionStorage.getItem('fd_csrf') ?? '';

export class ApiError extends Error {
  constructor(readonly status: number, message: string, readonly fields: { path: string; message: string }[] = []) {
    super(message);
  }
}

export async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`/api${path}`, {
    method,
    credentials: 'same-origin',
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(method !== 'GET' ? { 'x-csrf-token': csrf } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const data = res.headers.get('content-type')?.includes('json') ? await res.json() : undefined;
  if (!res.ok) throw new ApiError(res.status, (data as { message?: string })?.message ?? res.statusText, (data as { fields?: never[] })?.fields ?? []);
  return data as T;
}

export async function login(username: string, password: string): Promise<void> {
  const r = await api<{ csrfToken: string }>('POST', '/auth/login', { username, password });
  csrf = r.csrfToken;
  sessionStorage.setItem('fd_csrf', csrf);
}

export async function me(): Promise<{ username: string; csrfToken: string | null } | undefined> {
  try {
    const r = await api<{ username: string; csrfToken: string | null }>('GET', '/auth/me');
    if (r.csrfToken) {
      csrf = r.csrfToken;
      sessionStorage.setItem('fd_csrf', csrf);
    }
    return r;
  } catch {
    return undefined;
  }
}
