import v8 from 'node:v8';
import { tuneV8 } from '../../src/platform/v8-tuning';

describe('V8 tuning of the server process', () => {
  it('keeps objects of an allocation site in the young generation even when all of them survive', () => {
    tuneV8();
    v8.setFlagsFromString('--allow-natives-syntax');
    const inYoungGeneration = new Function('o', 'return %InYoungGeneration(o)') as (o: object) => boolean;
    const make = (i: number) => ({ i, pair: [i, i + 1] });
    // Enough survivors over enough scavenges that V8's default pretenures this site (checked: it then
    // allocates every later object from it in the old generation)
    const kept: object[] = [];
    for (let i = 0; i < 1_000_000; i++) kept.push(make(i));
    const young = Array.from({ length: 100 }, (_, i) => make(i)).filter(inYoungGeneration).length;
    expect(young).toBe(100);
    expect(kept).toHaveLength(1_000_000);
  });
});
