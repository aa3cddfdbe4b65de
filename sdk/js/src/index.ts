/** The ESM module: the singleton, the client class and the widget. */

import { FrontDeskSingleton } from "./frontdesk";
import { createWidgetApi } from "./widget";

export { FrontDeskClient, type DestroyOptions } from "./client";
export { FrontDeskError } from "./errors";
export { Backoff } from "./backoff";
export { FrontDeskSingleton, VERSION } from "./frontdesk";
export type * from "./types";
export type { MountOptions, Widget, WidgetApi } from "./widget-types";

/** The ready singleton. */
export const FrontDesk = new FrontDeskSingleton();
export const widget = createWidgetApi(FrontDesk);
FrontDesk.widget = widget;

export default FrontDesk;
