// `npx tsx test/hosts/ansible-lab.ts [up|down ID]`: the Ansible test's hosts for working on
// the play by hand: `up` creates them (example copied, tarball, vault, overlay), runs the
// play once and leaves everything in place, printing the work directory; `down` removes a
// lab's containers, network and directory.
import { rmSync } from 'node:fs';
import { AnsibleLab, ansibleImage } from './ansible.js';
import { engine } from './engine.js';
import { removeLabelled } from './tier.js';

const [cmd, id, dir] = process.argv.slice(2);
const { docker, image } = await engine();
if (cmd === 'down') {
  if (!id) throw new Error('usage: ansible-lab.ts down TIER_ID [DIR]');
  console.log(`removed ${await removeLabelled(docker, id)} containers`);
  if (dir?.includes('pgaf-ansible-')) rmSync(dir, { recursive: true, force: true });
} else {
  const lab = new AnsibleLab(docker, await ansibleImage(image), (m) => console.log(m));
  await lab.create();
  console.log(`tier ${lab.tier.id}, work directory ${lab.dir}`);
  const r = await lab.play();
  for (const t of r.tasks.filter((x) => x.failed)) console.log(`FAILED ${t.host}: ${t.task}`);
  if (r.code !== 0) console.log(r.output.slice(-6000));
}
