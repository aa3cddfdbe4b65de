/** All of the widget's CSS, inside its shadow root: `:host { all: initial }` keeps the page's
 * styles out (`!important`, so that it also wins over the page's `!important` rules on the host
 * element: for those the shadow root's own declarations take precedence), and nothing here can
 * reach the page. */

export const CSS = `
:host{all:initial!important}
.fd{--fd-color:#0b6bcb;--fd-fg:#fff;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2330;position:fixed;bottom:20px;right:20px;z-index:2147483000;text-align:left;direction:ltr}
.fd[data-position=left]{right:auto;left:20px}
.fd[data-inline]{position:relative;bottom:auto;right:auto;left:auto}
*,*::before,*::after{box-sizing:border-box}
button,input{font:inherit;color:inherit;margin:0}
button{cursor:pointer;border:0;background:none}
:focus-visible{outline:3px solid var(--fd-color);outline-offset:2px}
[hidden]{display:none!important}
.launcher{width:56px;height:56px;border-radius:50%;background:var(--fd-color);color:var(--fd-fg);display:grid;place-items:center;box-shadow:0 4px 14px rgba(0,0,0,.25);position:relative;transition:transform .15s}
.launcher:hover{transform:scale(1.06)}
.launcher svg{width:28px;height:28px;fill:currentColor}
.unread{position:absolute;top:-4px;right:-4px;min-width:20px;height:20px;padding:0 6px;border-radius:10px;background:#d93025;color:#fff;font-size:12px;font-weight:700;line-height:20px;text-align:center}
.panel{position:absolute;bottom:72px;right:0;width:370px;max-width:calc(100vw - 40px);height:560px;max-height:calc(100vh - 110px);display:flex;flex-direction:column;background:#fff;border-radius:14px;box-shadow:0 10px 40px rgba(0,0,0,.28);overflow:hidden;animation:fd-in .18s ease-out}
.fd[data-position=left] .panel{right:auto;left:0}
.fd[data-inline] .panel{position:relative;bottom:auto;margin-bottom:12px}
@keyframes fd-in{from{opacity:0;transform:translateY(12px)}to{opacity:1;transform:none}}
.head{display:flex;align-items:center;gap:8px;padding:12px 14px;background:var(--fd-color);color:var(--fd-fg)}
.head h2{flex:1;margin:0;font-size:16px;font-weight:600}
.x{width:32px;height:32px;border-radius:50%;color:inherit;font-size:22px;line-height:1}
.status{padding:6px 14px;background:#fff4e5;color:#6b4100;font-size:13px}
.log{flex:1;overflow-y:auto;padding:14px;display:flex;flex-direction:column;gap:8px;background:#f6f7f9;overscroll-behavior:contain}
.msg{max-width:85%;padding:8px 12px;border-radius:14px;white-space:pre-wrap;overflow-wrap:anywhere;background:#fff;border:1px solid #e3e6eb;align-self:flex-start}
.msg[data-direction=in]{align-self:flex-end;background:var(--fd-color);color:var(--fd-fg);border-color:transparent}
.msg[data-pending]{opacity:.65}
.msg[data-failed]{outline:2px solid #d93025}
.msg[data-sender=system]{align-self:center;background:none;border:0;color:#5f6673;font-size:12px}
.msg p{margin:0}
.msg a{color:inherit;text-decoration:underline}
.links{margin:6px 0 0;padding:0;list-style:none}
.card{margin-top:8px;padding:8px 10px;border:1px solid #e3e6eb;border-radius:10px;background:#fafbfc;color:#1d2330}
.card strong{display:block}
.card p{margin:2px 0;color:#5f6673;font-size:13px}
.price{font-weight:600;color:var(--fd-color)}
.typing{padding:0 14px 6px;background:#f6f7f9;color:#5f6673;font-size:13px;font-style:italic}
.quick{display:flex;flex-wrap:wrap;gap:6px;padding:8px 14px;background:#f6f7f9}
.quick button{padding:6px 12px;border:1px solid var(--fd-color);border-radius:16px;color:var(--fd-color);background:#fff}
.form{display:flex;gap:8px;padding:10px;border-top:1px solid #e3e6eb}
.form input{flex:1;min-width:0;padding:9px 12px;border:1px solid #c9ced6;border-radius:20px;background:#fff}
.send{padding:0 16px;border-radius:20px;background:var(--fd-color);color:var(--fd-fg);font-weight:600}
.foot{padding:0 10px 10px;text-align:center}
.transfer{width:100%;padding:8px;border-radius:20px;background:#25d366;color:#06361a;font-weight:600}
.foot a{display:block;margin-top:6px;color:#0b6b3a}
@media (max-width:480px){.fd:not([data-inline]) .panel{position:fixed;inset:0;width:auto;max-width:none;height:auto;max-height:none;border-radius:0}.fd[data-open]:not([data-inline]) .launcher{display:none}}
@media (prefers-reduced-motion:reduce){*,*::before,*::after{animation:none!important;transition:none!important}}
`;
