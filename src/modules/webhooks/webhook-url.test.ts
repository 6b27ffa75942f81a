import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { generateSecret, signatureHeader } from './signature.js';
import { refuseAddress, refuseUrl } from './webhook-url.js';

describe('webhook URL checks (SSRF)', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'linkLocal'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['224.0.0.1', 'multicast'],
    ['0.0.0.0', 'unspecified'],
    ['::1', 'loopback'],
    ['fd00:ec2::254', 'uniqueLocal'],
    ['fe80::1', 'linkLocal'],
    ['::ffff:127.0.0.1', 'loopback'],
  ])('refuses %s (%s)', (address, range) => {
    expect(refuseAddress(address)).toContain(range);
  });

  it('accepts public unicast addresses', () => {
    expect(refuseAddress('93.184.216.34')).toBeUndefined();
    expect(refuseAddress('2606:2800:220:1:248:1893:25c8:1946')).toBeUndefined();
  });

  it('refuses other schemes, credentials, and hosts that resolve to loopback', async () => {
    expect(await refuseUrl('ftp://93.184.216.34/x', false)).toMatch(/only http and https/);
    expect(await refuseUrl('http://user:pw@93.184.216.34/', false)).toMatch(/credentials/);
    expect(await refuseUrl('http://localhost:8080/hook', false)).toMatch(/localhost resolves to/);
    expect(await refuseUrl('http://[::1]/hook', false)).toMatch(/loopback/);
    expect(await refuseUrl('http://93.184.216.34/hook', false)).toBeUndefined();
  });

  it('lets WEBHOOK_ALLOW_PRIVATE_URLS through private hosts, but never other schemes', async () => {
    expect(await refuseUrl('http://127.0.0.1:9/hook', true)).toBeUndefined();
    expect(await refuseUrl('file:///etc/passwd', true)).toMatch(/only http and https/);
  });
});

describe('webhook signatures', () => {
  it('verify with the independent standardwebhooks implementation, with either secret during a rotation', () => {
    const [oldSecret, newSecret] = [generateSecret(), generateSecret()];
    const body = JSON.stringify({ id: '42', type: 'order.completed', createdAt: '2026-12-02T10:00:00.000Z', data: { order: { id: 'x' } } });
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = { 'webhook-id': '42', 'webhook-timestamp': String(timestamp), 'webhook-signature': signatureHeader([newSecret, oldSecret], '42', timestamp, body) };
    expect(new Webhook(newSecret).verify(body, headers)).toEqual(JSON.parse(body));
    expect(new Webhook(oldSecret).verify(body, headers)).toEqual(JSON.parse(body));
    expect(() => new Webhook(generateSecret()).verify(body, headers)).toThrow();
    expect(() => new Webhook(newSecret).verify(body.replace('42', '43'), headers)).toThrow();
  });
});
