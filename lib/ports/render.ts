// The render port: a checkout's files to the manifests they declare (plain
// YAML, Kustomize or Helm). lib/source/render.ts's SourceCache implements it.

import type { Application, ApplicationSource, Decryption } from '../model/application.js';
import type { Manifest } from '../model/manifest.js';

/** What rendering needs of an application: its name (release name), source and SOPS decryption. */
export interface RenderableApp {
  metadata: Pick<Application['metadata'], 'name'>;
  spec: { source: ApplicationSource; decryption?: Decryption };
}

export interface Renderer {
  /** The manifests of `app`'s source in a checkout; callers must not mutate the result. */
  render(
    checkoutDir: string,
    app: RenderableApp,
    namespace: string | undefined,
    /** Multi-source: checkouts of the `ref` sources by name, for `$NAME/…` values files. */
    refs?: Readonly<Record<string, string>>,
  ): Promise<readonly Manifest[]>;
}
