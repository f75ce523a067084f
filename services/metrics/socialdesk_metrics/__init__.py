"""metrics: folds items.events, sla.events and posts.outbound into report cells."""
