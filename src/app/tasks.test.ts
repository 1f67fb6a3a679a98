import { describe, expect, it } from 'vitest';
import { scoreTaskSample, scoreTaskSamples } from './tasks';

describe('scoring generated task samples', () => {
  it('checks each task against its own prompt', () => {
    expect(scoreTaskSample('reverse', 'abc>cba')).toBe('correct');
    expect(scoreTaskSample('reverse', 'abc>abc')).toBe('wrong');
    expect(scoreTaskSample('reverse', 'abc')).toBe('malformed');
    expect(scoreTaskSample('sort', '3141>1134')).toBe('correct');
    expect(scoreTaskSample('sort', '3141>1143')).toBe('wrong');
    expect(scoreTaskSample('addmod', '96+2=1')).toBe('correct');
    expect(scoreTaskSample('addmod', '96+2=98')).toBe('wrong');
    // Leading zeros are not how the task writes answers.
    expect(scoreTaskSample('addmod', '1+2=03')).toBe('wrong');
    expect(scoreTaskSample('addmod', '120+2=25')).toBe('malformed');
    expect(scoreTaskSample('names', 'anna')).toBeNull();
  });

  it('counts a set of samples', () => {
    expect(scoreTaskSamples('sort', ['21>12', '21>21', 'x'])).toEqual({ correct: 1, wrong: 1, malformed: 1 });
    expect(scoreTaskSamples('names', ['anna'])).toBeNull();
    // The classifier's and the encoder-decoder's datasets are not scored as generated text.
    expect(scoreTaskSamples('majority', ['abc'])).toBeNull();
    expect(scoreTaskSamples('numbers', ['1'])).toBeNull();
  });
});
