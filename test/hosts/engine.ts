// The Docker engine and the host image for the container tier: prepare-engine.sh (packages,
// daemon.json, guard route, dockerd) and build-image.sh (the image, tagged by a hash of its
// inputs, built once). Both are idempotent and fast when everything is there already.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import Docker from 'dockerode';

const HERE = import.meta.dirname;

function sh(script: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('bash', [join(HERE, script)], { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${script} failed: ${String(stderr).trim() || err.message}`));
      else resolve(String(stdout).trim());
    });
  });
}

let ready: Promise<{ docker: Docker; image: string }> | undefined;

/** The engine answering and the host image built (once per process). */
export function engine(): Promise<{ docker: Docker; image: string }> {
  ready ??= (async () => {
    await sh('prepare-engine.sh', 300_000);
    const image = (await sh('build-image.sh', 600_000)).split('\n').pop()!;
    const docker = new Docker({ socketPath: '/var/run/docker.sock' });
    await docker.ping();
    return { docker, image };
  })();
  return ready;
}
