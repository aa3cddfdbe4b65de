"""The email channel: inbound by providers' inbound-parse webhooks (SendGrid, Mailgun,
Postmark) or by polling a mailbox over IMAP, outbound by SMTP, threads kept by Message-ID and
a per-conversation reply address."""
