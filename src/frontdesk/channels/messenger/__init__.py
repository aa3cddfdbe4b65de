"""Facebook Messenger: a Facebook Page's conversations, through Meta's Messenger Platform."""
