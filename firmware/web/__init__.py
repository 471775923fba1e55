"""The operators' web console and REST API, served over HTTPS by ``occur run``.

``routes.start(appliance)`` builds it; :mod:`firmware.web.http` is the only module that knows the
web framework (Tornado). Pages are server-rendered, with one small script.
"""
