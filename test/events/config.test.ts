import { parseConfig } from '../../src/platform/config';

describe('events configuration', () => {
  it('a receiver URL without its signing secret, or a secret not whsec_ + base64, stops the start, named', () => {
    expect(() => parseConfig({ EVENTS_WEBHOOK_URL: 'https://backend.example/billing-events' })).toThrow(
      /EVENTS_WEBHOOK_SECRET: is required/,
    );
    expect(() =>
      parseConfig({ EVENTS_WEBHOOK_URL: 'https://backend.example/e', EVENTS_WEBHOOK_SECRET: 'plain' }),
    ).toThrow(/EVENTS_WEBHOOK_SECRET: must be whsec_/);
    const ok = parseConfig({
      EVENTS_WEBHOOK_URL: 'https://backend.example/e',
      EVENTS_WEBHOOK_SECRET: `whsec_${Buffer.alloc(32, 7).toString('base64')}`,
    });
    expect(ok.EVENTS_WEBHOOK_URL).toBe('https://backend.example/e');
  });

  it('without a receiver, events are only recorded: no secret needed', () => {
    expect(parseConfig({}).EVENTS_WEBHOOK_URL).toBeUndefined();
  });
});
