/**
 * A URL whose connection is refused, for as long as the test runs. A port that was free a moment
 * ago is not: the suite's files run side by side, and another file's server may take it next
 * (CI once got a 404 from a neighbour's server there). Port 1 is privileged and nothing here
 * serves it, so a connection to it is refused; this checks that before a test relies on it.
 */
import net from 'node:net';

const REFUSED_PORT = 1;

export async function refusedUrl(): Promise<string> {
  const code = await new Promise<string | undefined>((resolve) => {
    const socket = net.connect(REFUSED_PORT, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code));
  });
  if (code !== 'ECONNREFUSED')
    throw new Error(`127.0.0.1:${REFUSED_PORT} should refuse connections for this test, but it gave ${code ?? 'a connection'}`);
  return `http://127.0.0.1:${REFUSED_PORT}`;
}
