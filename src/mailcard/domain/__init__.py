"""Plain data shared across layers: mailboxes, and later customers, managers, stores, senders, accounts."""
