import { generateKeyPairSync } from 'node:crypto';
import forge from 'node-forge';
import { clientSubject, generateCa, issue, loadCa, subjectFields, type Signer } from '../trust/ca.js';
import type { Result } from './stats.js';

/** Client certificates per second from one CA (RSA-3072), signed by node-forge vs Node's native RSA. */
export function certificateIssuance(): Result {
  const { certPem, keyPem } = generateCa();
  const ca = loadCa(certPem, keyPem);
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const request = {
    publicKey: forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString()),
    subject: subjectFields(clientSubject('application', crypto.randomUUID(), crypto.randomUUID(), { L: 'Waldorf', ST: 'BW', C: 'DE' })),
    validityDays: 90,
    usage: 'client' as const,
  };
  const rate = (signer: Signer, count: number) => {
    issue(ca, request, signer); // warm-up (forge converts the key once)
    const started = process.hrtime.bigint();
    for (let i = 0; i < count; i++) issue(ca, request, signer);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return count / seconds;
  };
  const forgeRate = rate('forge', 30);
  const nativeRate = rate('native', 300);
  return {
    title: 'certificate issuance (build with node-forge, CA key RSA-3072, one core)',
    figures: [
      { label: 'forge-only signing', value: forgeRate, unit: 'certificates/s' },
      { label: 'native signing', value: nativeRate, unit: 'certificates/s' },
      { label: 'ratio native/forge', value: nativeRate / forgeRate, unit: '×' },
    ],
  };
}
