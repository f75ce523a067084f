"""console-api: the operators' web console and its JSON API."""
