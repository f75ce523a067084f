"""The token an attachment is fetched with, where the platform's media host needs one
(direct messages' files on X are behind the account's token). Read-only use of the same
per-account references outbound reads (config/forces/<force>.yaml `credentials`): the
variable's value is never logged or recorded."""

from __future__ import annotations

import os
from collections.abc import Mapping

from socialdesk.config import PlatformConfig


class Tokens:
    def __init__(self, config: PlatformConfig | None, environ: Mapping[str, str] | None = None):
        self.config = config
        self.environ = os.environ if environ is None else environ

    def token(self, force: str | None, platform: str, account: str | None) -> str | None:
        """The token of the force account the message reached, if its variable is set."""
        config = self.config
        fc = config.forces.get(force) if config and force else None
        if config is None or fc is None or not account:
            return None
        handle = config.account_id_index.get((platform, account), account)
        cred = fc.credential(platform, handle)
        return self.environ.get(cred.env) or None if cred is not None else None
