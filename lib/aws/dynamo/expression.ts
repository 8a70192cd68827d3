// A small builder for DynamoDB expressions, so no call site writes its own
// `#name`/`:value` maps: `name(attr)` gives the placeholder of an attribute
// name, `value(v)` the placeholder of a value, and an update collects SET and
// REMOVE clauses. `build()` returns the request fields, with the maps holding
// exactly the placeholders used.

import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { Item } from './items.js';

export interface ExpressionFields {
  ExpressionAttributeNames: Record<string, string>;
  ExpressionAttributeValues?: Item;
}

export class Expression {
  private readonly names: Record<string, string> = {};
  private readonly placeholders = new Map<string, string>();
  private readonly values: Item = {};
  private count = 0;

  /**
   * The placeholder of an attribute name (`#attr`, the same one each time).
   * Characters a placeholder cannot hold become `_`; two names that would
   * then share one (`a-b`, `a_b`) get distinct placeholders.
   */
  name(attribute: string): string {
    const known = this.placeholders.get(attribute);
    if (known) return known;
    const base = `#${attribute.replace(/[^A-Za-z0-9_]/g, '_')}`;
    let placeholder = base;
    for (let n = 1; placeholder in this.names; n++) placeholder = `${base}_${n}`;
    this.names[placeholder] = attribute;
    this.placeholders.set(attribute, placeholder);
    return placeholder;
  }

  /** The placeholder of a value (`:v0`, `:v1`, …); call once and reuse it for the same value. */
  value(v: AttributeValue): string {
    const placeholder = `:v${this.count++}`;
    this.values[placeholder] = v;
    return placeholder;
  }

  /** `attribute_not_exists(#a) OR #a <= :v`: unset, or not above `limit`. */
  atMost(attribute: string, limit: string): string {
    const a = this.name(attribute);
    return `(attribute_not_exists(${a}) OR ${a} <= ${limit})`;
  }

  fields(): ExpressionFields {
    return {
      ExpressionAttributeNames: { ...this.names },
      ...(Object.keys(this.values).length ? { ExpressionAttributeValues: { ...this.values } } : {}),
    };
  }
}

export class Update extends Expression {
  private readonly sets: string[] = [];
  private readonly removes: string[] = [];

  /** SET attribute = value. */
  set(attribute: string, v: AttributeValue): this {
    this.sets.push(`${this.name(attribute)} = ${this.value(v)}`);
    return this;
  }

  /** SET attribute = value, unless it has one. */
  setIfAbsent(attribute: string, v: AttributeValue): this {
    const a = this.name(attribute);
    this.sets.push(`${a} = if_not_exists(${a}, ${this.value(v)})`);
    return this;
  }

  /** SET with an expression of placeholders from this builder, e.g. `#n = #n + :one`. */
  setExpression(clause: string): this {
    this.sets.push(clause);
    return this;
  }

  remove(...attributes: string[]): this {
    for (const a of attributes) this.removes.push(this.name(a));
    return this;
  }

  /** `SET a, b REMOVE c, d`, leaving out an empty clause. */
  expression(): string {
    return [
      this.sets.length ? `SET ${this.sets.join(', ')}` : '',
      this.removes.length ? `REMOVE ${this.removes.join(', ')}` : '',
    ]
      .filter(Boolean)
      .join(' ');
  }

  /** The UpdateItem fields, with a condition built from this builder's placeholders. */
  build(condition?: string): ExpressionFields & {
    UpdateExpression: string;
    ConditionExpression?: string;
  } {
    return {
      UpdateExpression: this.expression(),
      ...(condition ? { ConditionExpression: condition } : {}),
      ...this.fields(),
    };
  }
}
