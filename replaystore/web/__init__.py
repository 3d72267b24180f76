"""The web pages of `replaystore serve`: the replay list, the player and the selectors view.

The pages are static HTML shells around scripts bundled from `web/` (rrweb-player and our
page code, `make web`) into `static/`; every datum they show comes from the `/api/0` routes
with the same token rules as any other client.
"""
