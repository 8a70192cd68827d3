import { describe, expect, it } from 'vitest';
import { Expression, Update } from '../../../../lib/aws/dynamo/expression.js';

describe('Expression', () => {
  it('gives an attribute one placeholder, and maps exactly the placeholders used', () => {
    const x = new Expression();
    const key = `${x.name('pk')} = ${x.value({ S: 'APP#web' })}`;
    expect(x.name('pk')).toBe('#pk');
    expect(key).toBe('#pk = :v0');
    expect(x.fields()).toEqual({
      ExpressionAttributeNames: { '#pk': 'pk' },
      ExpressionAttributeValues: { ':v0': { S: 'APP#web' } },
    });
  });

  it('keeps names apart that would share a placeholder once sanitized', () => {
    const x = new Expression();
    const a = x.name('a-b');
    const b = x.name('a_b');
    const c = x.name('a.b');
    expect(new Set([a, b, c]).size).toBe(3);
    expect(x.fields().ExpressionAttributeNames).toEqual({ [a]: 'a-b', [b]: 'a_b', [c]: 'a.b' });
  });

  it('leaves the value map out when no value is used', () => {
    const x = new Expression();
    expect(`attribute_exists(${x.name('fence')})`).toBe('attribute_exists(#fence)');
    expect(x.fields()).toEqual({ ExpressionAttributeNames: { '#fence': 'fence' } });
  });
});

describe('Update', () => {
  it('builds SET and REMOVE clauses and the condition from one set of placeholders', () => {
    const u = new Update().set('status', { S: 'x' }).setIfAbsent('created', { N: '1' });
    u.remove('lease', 'holder');
    expect(u.build(u.atMost('fence', u.value({ N: '7' })))).toEqual({
      UpdateExpression:
        'SET #status = :v0, #created = if_not_exists(#created, :v1) REMOVE #lease, #holder',
      ConditionExpression: '(attribute_not_exists(#fence) OR #fence <= :v2)',
      ExpressionAttributeNames: {
        '#status': 'status',
        '#created': 'created',
        '#lease': 'lease',
        '#holder': 'holder',
        '#fence': 'fence',
      },
      ExpressionAttributeValues: { ':v0': { S: 'x' }, ':v1': { N: '1' }, ':v2': { N: '7' } },
    });
  });

  it('leaves out an empty clause', () => {
    expect(new Update().remove('lease').expression()).toBe('REMOVE #lease');
    expect(new Update().set('a', { S: '1' }).expression()).toBe('SET #a = :v0');
  });
});
