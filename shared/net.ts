/** Addresses: which binds are loopback (the protected-mode defaults of master and worker). */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
