/** `frontdesk.js`: `window.FrontDesk` with `FrontDesk.widget`; replays the snippet's queue. */

import { FrontDeskSingleton, install } from "./frontdesk";
import { createWidgetApi } from "./widget";

const frontDesk = new FrontDeskSingleton();
frontDesk.widget = createWidgetApi(frontDesk);
install(frontDesk);
