"""Tools above the services: the `socialdesk` command, the local stack and the traffic
simulator. Core and the services never import this package."""
