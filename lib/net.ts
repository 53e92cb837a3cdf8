// Network helpers that send no traffic.
import { createSocket } from 'node:dgram';
import { isIP } from 'node:net';
import { lookup } from 'node:dns/promises';

/** The local address the kernel would use to reach host:port (a UDP connect sends nothing). */
export async function localAddressToward(host: string, port: number): Promise<string> {
  const address = isIP(host) ? host : (await lookup(host)).address;
  if (address.startsWith('127.') || address === '::1') return address;
  return new Promise((resolve, reject) => {
    const sock = createSocket(isIP(address) === 6 ? 'udp6' : 'udp4');
    sock.once('error', (err) => {
      sock.close();
      reject(err);
    });
    sock.connect(port, address, () => {
      const local = sock.address().address;
      sock.close();
      resolve(local);
    });
  });
}
