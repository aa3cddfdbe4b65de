/** The widget's words, in Spanish and English, chosen from the setting or the page. */

export type Lang = "es" | "en";

export interface Strings {
  title: string;
  open: string;
  close: string;
  input: string;
  placeholder: string;
  send: string;
  typing: string;
  offline: string;
  reconnecting: string;
  failed: string;
  identity: string;
  refused: string;
  transfer: string;
  transferOpen: string;
  transferred: string;
  quickReplies: string;
  pending: string;
  unread: (count: number) => string;
}

export const STRINGS: Record<Lang, Strings> = {
  es: {
    title: "Chatea con nosotros",
    open: "Abrir el chat",
    close: "Cerrar el chat",
    input: "Tu mensaje",
    placeholder: "Escribe tu mensaje…",
    send: "Enviar",
    typing: "Escribiendo…",
    offline: "Sin conexión: enviaremos tus mensajes al volver.",
    reconnecting: "Reconectando…",
    failed: "No se pudo enviar.",
    identity: "Inicia sesión en el sitio para chatear.",
    refused: "Este sitio no está autorizado para este chat.",
    transfer: "Continuar por WhatsApp",
    transferOpen: "Abrir WhatsApp",
    transferred: "La conversación continúa en WhatsApp.",
    quickReplies: "Respuestas sugeridas",
    pending: "Pendiente de envío",
    unread: (n) => (n === 1 ? "1 mensaje sin leer" : `${n} mensajes sin leer`),
  },
  en: {
    title: "Chat with us",
    open: "Open the chat",
    close: "Close the chat",
    input: "Your message",
    placeholder: "Type your message…",
    send: "Send",
    typing: "Typing…",
    offline: "Offline: your messages will be sent when you are back.",
    reconnecting: "Reconnecting…",
    failed: "Could not be sent.",
    identity: "Sign in on the site to chat.",
    refused: "This site is not allowed to use this chat.",
    transfer: "Continue on WhatsApp",
    transferOpen: "Open WhatsApp",
    transferred: "The conversation continues on WhatsApp.",
    quickReplies: "Suggested replies",
    pending: "Waiting to be sent",
    unread: (n) => (n === 1 ? "1 unread message" : `${n} unread messages`),
  },
};

/** The first of the candidates (the setting, `<html lang>`, `navigator.language`) that is
 * Spanish or English; Spanish otherwise, like the server's own notes. */
export function pickLang(...candidates: Array<string | null | undefined>): Lang {
  for (const candidate of candidates) {
    const base = (candidate ?? "").trim().toLowerCase().split(/[-_]/)[0];
    if (base === "es" || base === "en") return base;
  }
  return "es";
}
