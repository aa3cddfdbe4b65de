"""What Messenger and Instagram Direct share: Meta's Messenger Platform webhooks
(``object: page|instagram`` → ``entry[].messaging[]``), its Send API
(``POST /{page or account}/messages``), its message templates, and a 24-hour window with the
``HUMAN_AGENT`` tag. ``channels/messenger`` and ``channels/instagram`` declare what differs."""
