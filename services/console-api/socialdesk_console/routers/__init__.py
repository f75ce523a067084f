"""The console's routes, one module per area, each a module-level `router` whose handlers
take the console context and the user through dependencies (deps.py); app.py includes
them."""

from socialdesk_console.routers import (
    audit,
    auth,
    board,
    campaigns,
    dataprotection,
    handover,
    inbox,
    language,
    media,
    presence,
    publishing,
    replies,
    reports,
    retention,
    search,
    stream,
)

# Every area's routes, in the order create_app includes them.
ROUTERS = (
    auth,
    language,
    inbox,
    replies,
    search,
    audit,
    presence,
    stream,
    board,
    reports,
    handover,
    retention,
    dataprotection,
    media,
    publishing,
    campaigns,
)
