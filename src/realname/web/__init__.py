"""Pages for people: the borrower's help pages (and, as they land, the flow and ops console).

Server-rendered with Jinja2, mobile-first, zh-CN by default with an English switch,
and no asset from the internet: the stylesheet is served from the package.
"""
