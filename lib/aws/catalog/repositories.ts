// Repository records (private Git: credentials by URL prefix): one item each,
// listed through the `list` index. The item holds the URL prefix and the
// name of the secret, never a secret value (the schema has no field for one).

import { type Repository, RepositorySchema } from '../../model/application.js';
import { DEFAULT_PAGE_SIZE, type Page } from '../../ports/store.js';
import { av, readString } from '../dynamo/items.js';
import { ATTR, LIST_REPOSITORIES, repositoryKey } from '../dynamo/schema.js';
import type { CatalogContext } from './context.js';
import { listPage } from './list.js';
import { parseStored } from './specs.js';

export class RepositoryItems {
  constructor(private readonly ctx: CatalogContext) {}

  async putRepository(repository: Repository): Promise<void> {
    const name = repository.metadata.name;
    await this.ctx.table.putItem(
      'putRepository',
      {
        Item: {
          ...repositoryKey(name),
          [ATTR.itemType]: av.s('Repository'),
          [ATTR.spec]: av.s(JSON.stringify(repository)),
          [ATTR.listPk]: av.s(LIST_REPOSITORIES),
          [ATTR.listSk]: av.s(name),
        },
      },
      1,
    );
  }

  async getRepository(name: string): Promise<Repository | undefined> {
    const out = await this.ctx.table.getItem('getRepository', {
      Key: repositoryKey(name),
      ConsistentRead: true,
    });
    return out.Item && parseStored(RepositorySchema, out.Item, `Repository/${name}`);
  }

  async deleteRepository(name: string): Promise<void> {
    await this.ctx.table.deleteItem('deleteRepository', { Key: repositoryKey(name) }, 1);
  }

  async listRepositories(limit = DEFAULT_PAGE_SIZE, next?: string): Promise<Page<Repository>> {
    const page = await listPage(this.ctx, 'listRepositories', LIST_REPOSITORIES, limit, next);
    return {
      items: page.items.map((i) =>
        parseStored(RepositorySchema, i, `Repository/${readString(i, ATTR.listSk)}`),
      ),
      next: page.next,
    };
  }
}
