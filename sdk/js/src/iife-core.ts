/** `frontdesk-core.js`: `window.FrontDesk` without the widget. */

import { FrontDeskSingleton, install } from "./frontdesk";

install(new FrontDeskSingleton());
