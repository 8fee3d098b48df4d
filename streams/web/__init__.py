"""``scorestream serve``: the live leaderboard pages and the HTTP API, reading Redis only.

``app`` builds the ASGI app, ``access`` guards it with the web token, ``api`` and
``pages`` answer requests through ``streams.views.documents`` and ``streams.views.reading``, and
``live`` follows Redis's change and alert streams once for every open page. Templates
and static files ship inside this package: no CDN, no build step.
"""
