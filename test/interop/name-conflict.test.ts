/**
 * Name conflicts in a mixed cluster: a second node that claims a live node's name loses the
 * `_serf_conflict` vote and shuts down, whichever implementation the impostor and the voters are.
 */

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { cleanupAgents, ReferenceAgent } from '../helpers/reference.js';
import { waitFor } from '../helpers/wait.js';

after(cleanupAgents);

for (const impostorKind of ['serf-ts', 'reference'] as const) {
  describe(`name conflict with a ${impostorKind} impostor`, () => {
    it('the impostor is in the minority and shuts down', async () => {
      const original = await ReferenceAgent.start({
        name: 'dup',
        implementation: impostorKind === 'serf-ts' ? 'reference' : 'serf-ts',
        profile: 'lan',
      });
      const voterGo = await ReferenceAgent.start({
        name: 'voter-go',
        profile: 'lan',
        join: [original.gossipAddr],
      });
      const voterTs = await ReferenceAgent.start({
        name: 'voter-ts',
        implementation: 'serf-ts',
        profile: 'lan',
        join: [original.gossipAddr],
      });
      for (const voter of [voterGo, voterTs]) await voter.waitForMember('dup', 'alive');

      const impostor = await ReferenceAgent.start({
        name: 'dup',
        implementation: impostorKind,
        profile: 'lan',
        join: [voterGo.gossipAddr],
      });
      const code = await Promise.race([
        impostor.exited,
        waitFor(() => false, { timeoutMs: 30_000, message: 'impostor did not shut down' }),
      ]);
      assert.equal(code, 0, 'the agent exits 0 after losing the vote');
      assert.ok(
        impostor.output.some((l) => /minority in name conflict resolution, quitting \[0 \/ [12]\]/.test(l)),
        impostor.outputTail(40),
      );

      // The original keeps its name and its address on every voter.
      for (const voter of [voterGo, voterTs]) {
        const members = await voter.members();
        const dup = members.find((m) => m.name === 'dup');
        assert.equal(dup?.addr, original.gossipAddr);
      }
      assert.equal((await original.members()).find((m) => m.name === 'dup')?.status, 'alive');
    });
  });
}
