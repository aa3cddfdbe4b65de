import type { FrontDeskClient } from "./client";
import type { InitOptions } from "./types";

export interface MountOptions extends Partial<InitOptions> {
  /** A client made with `FrontDesk.init`; by default the singleton's, or one made from the options. */
  client?: FrontDeskClient;
  /** Open the panel at once. */
  open?: boolean;
  /** Where the widget goes (default `document.body`); in a container it is not fixed to the viewport. */
  container?: HTMLElement;
  /** For a page whose CSP allows `<style>` only with a nonce, in browsers without constructable stylesheets. */
  nonce?: string;
}

export interface Widget {
  readonly client: FrontDeskClient;
  readonly element: HTMLElement;
  readonly isOpen: boolean;
  readonly unread: number;
  open(): void;
  close(): void;
  toggle(): void;
  unmount(): void;
}

export interface WidgetApi {
  mount(options?: MountOptions): Widget;
}
