"""The API described in OpenAPI 3.1, for humans and for schemathesis."""

from __future__ import annotations

from finews.serve.queries import MAX_LIMIT

_STOCK = {"type": "object", "required": ["secid", "code", "market", "name", "kind"], "properties": {
    "secid": {"type": "string", "description": "<market>.<code>, e.g. 1.600519"},
    "code": {"type": "string"}, "market": {"type": "integer"}, "name": {"type": "string"},
    "kind": {"type": "string", "enum": ["a-share", "hk", "us", "board", "index"]},
}}


_STORY_REF = {"type": "object", "required": ["id", "articles"], "properties": {
    "id": {"type": "integer", "description": "The story: the key of its first article"},
    "articles": {"type": "array", "items": {"type": "object"},
                 "description": "Every copy, oldest first (the article alone if it has none)"},
}}


def _article_schema(extra: dict | None = None) -> dict:
    props = {
        "id": {"type": "string", "description": "Stable id: the digits of the source's code"},
        "code": {"type": "string"},
        "title": {"type": "string"},
        "published": {"type": "string", "format": "date-time"},
        "outlet": {"type": "string"},
        "category": {"type": "string", "description": "The outlet's URL slug"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "digest": {"type": "string"},
        "url": {"type": "string", "description": "The original article"},
        "page": {"type": "string", "description": "The article's page on this site"},
        "source": {"type": "string"},
        "stocks": {"type": "array", "items": _STOCK,
                   "description": "The securities it mentions, the first named first"},
        "important": {"type": "boolean",
                      "description": "Marked important: red in Eastmoney's 7×24 list, or by a rule"},
        **(extra or {}),
    }
    return {"type": "object", "properties": props, "required": list(props)}


def _limit(default: int) -> dict:
    return {"name": "limit", "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": default}}


def openapi_schema() -> dict:
    """The API, described for humans and for schemathesis."""
    strings = {"type": "array", "items": {"type": "string"}}
    filters = [
        {"name": "outlet", "in": "query", "schema": {"type": "string"},
         "description": "An outlet's name (南方都市报) or slug (nanfangdushibao)"},
        {"name": "tag", "in": "query", "schema": {"type": "string"}},
        {"name": "since", "in": "query", "schema": {"type": "string"},
         "description": "YYYY-MM-DD (start of that day, Beijing time) or an ISO 8601 time"},
        {"name": "until", "in": "query", "schema": {"type": "string"},
         "description": "YYYY-MM-DD (end of that day) or an ISO 8601 time, exclusive"},
        {"name": "cursor", "in": "query", "schema": {"type": "string"},
         "description": "next_cursor of the previous page"},
        {"name": "stock", "in": "query", "schema": {"type": "string"},
         "description": "A security: its secid (1.600519), its code (600519) or a name it had"},
        {"name": "group", "in": "query", "schema": {"type": "string", "enum": ["story"]},
         "description": "story: one item per story (its newest match), with the other copies"},
        {"name": "important", "in": "query", "schema": {"type": "string", "enum": ["true", "false"]},
         "description": "true: only important articles"},
    ]
    atom = {"description": "An Atom feed",
            "content": {"application/atom+xml": {"schema": {"type": "string"}}}}
    error = {"description": "Bad parameter", "content": {"application/json": {"schema": {
        "type": "object", "properties": {"error": {"type": "string"},
                                         "field": {"type": ["string", "null"]}},
        "required": ["error", "field"]}}}}

    def page(item: dict) -> dict:
        return {"description": "A page of articles, newest first", "content": {"application/json": {
            "schema": {"type": "object", "properties": {
                "articles": {"type": "array", "items": item},
                "next_cursor": {"type": ["string", "null"]},
            }, "required": ["articles", "next_cursor"]}}}}

    hit = _article_schema({"snippet": {"type": "string", "description": "Escaped HTML, hits in <mark>"},
                           "score": {"type": "number"}})
    return {
        "openapi": "3.1.0",
        "info": {"title": "finews API", "version": "1",
                 "description": "The archive of Chinese financial news, read-only."},
        "paths": {
            "/api/articles": {"get": {
                "summary": "Articles, newest first, filtered; with q, those that contain it",
                "parameters": [*filters,
                               {"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 200}},
                               _limit(50)],
                "responses": {"200": page(_article_schema()), "400": error},
            }},
            "/api/articles/{article_id}": {"get": {
                "summary": "One article with its sanitised HTML",
                "parameters": [{"name": "article_id", "in": "path", "required": True,
                                "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "The article", "content": {"application/json": {
                        "schema": _article_schema({"html": {"type": "string"}, "aliases": strings,
                                                   "story": _STORY_REF})}}},
                    "404": {"description": "No such article", "content": {"application/json": {
                        "schema": error["content"]["application/json"]["schema"]}}},
                },
            }},
            "/api/articles/{article_id}/revisions": {"get": {
                "summary": "Every version of an article, oldest first, and each change as "
                           "character diffs: runs of [-1 deleted | 0 kept | 1 inserted, text]",
                "parameters": [{"name": "article_id", "in": "path", "required": True,
                                "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "The versions and the changes", "content": {
                        "application/json": {"schema": {"type": "object", "properties": {
                            "id": {"type": "string"}, "changes": {"type": "integer"},
                            "versions": {"type": "array", "items": {"type": "object"}},
                            "edits": {"type": "array", "items": {"type": "object"}}}}}}},
                    "404": {"description": "No such article", "content": {"application/json": {
                        "schema": error["content"]["application/json"]["schema"]}}},
                },
            }},
            "/api/search": {"get": {
                "summary": "Full-text search: every article containing every space-separated term "
                           "(OR between two terms: either; a leading -: excluded)",
                "parameters": [*filters,
                               {"name": "q", "in": "query", "required": True,
                                "schema": {"type": "string", "minLength": 1, "maxLength": 200}},
                               {"name": "order", "in": "query",
                                "schema": {"type": "string", "enum": ["newest", "relevance"]}},
                               _limit(20)],
                "responses": {"200": page(hit), "400": error},
            }},
            "/api/search.atom": {"get": {
                "summary": "A search as an Atom feed, newest first: subscribe to any query",
                "parameters": [*filters,
                               {"name": "q", "in": "query", "required": True,
                                "schema": {"type": "string", "minLength": 1, "maxLength": 200}},
                               _limit(20)],
                "responses": {"200": atom, "400": error},
            }},
            "/api/watch/{name}": {"get": {
                "summary": "A [[watch]]'s latest matches in the archive; NAME.atom is its feed",
                "parameters": [{"name": "name", "in": "path", "required": True,
                                "schema": {"type": "string"}},
                               {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                               _limit(50)],
                "responses": {"200": page(_article_schema()), "400": error,
                              "404": {"description": "No such watch", "content": {"application/json": {
                                  "schema": error["content"]["application/json"]["schema"]}}}},
            }},
            "/api/stories/{story_id}": {"get": {
                "summary": "One story: the copies of one report that several outlets ran",
                "parameters": [{"name": "story_id", "in": "path", "required": True,
                                "schema": {"type": "string"},
                                "description": "The story's id, as /api/articles/{id} gives it"}],
                "responses": {
                    "200": {"description": "The story, its copies oldest first", "content": {
                        "application/json": {"schema": {
                            "type": "object", "required": ["id", "lead", "outlets", "articles"]}}}},
                    "404": {"description": "No such story", "content": {"application/json": {
                        "schema": error["content"]["application/json"]["schema"]}}},
                },
            }},
            "/api/stocks": {"get": {
                "summary": "Securities with news, most mentioned first",
                "parameters": [{"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 200},
                                "description": "A code, a secid or part of a name"}, _limit(100)],
                "responses": {"200": {"description": "Securities", "content": {"application/json": {
                    "schema": {"type": "object", "properties": {"stocks": {"type": "array", "items": {
                        **_STOCK, "properties": {**_STOCK["properties"], "articles": {"type": "integer"}}}}},
                        "required": ["stocks"]}}}}, "400": error},
            }},
            "/api/stocks/{secid}": {"get": {
                "summary": "One security: its names, latest articles and news per day (90 days)",
                "parameters": [{"name": "secid", "in": "path", "required": True, "schema": {"type": "string"},
                                "description": "1.600519, 600519 or a name it had"}],
                "responses": {
                    "200": {"description": "The security", "content": {"application/json": {"schema": {
                        "type": "object", "required": ["secid", "names", "articles", "daily"]}}}},
                    "404": {"description": "No such security", "content": {"application/json": {
                        "schema": error["content"]["application/json"]["schema"]}}},
                },
            }},
            "/api/live": {"get": {
                "summary": "Server-Sent Events: each article stored after `after`, as the 7×24 page shows it",
                "parameters": [{"name": "after", "in": "query", "required": True,
                                "schema": {"type": "string"},
                                "description": "The key of the newest item shown (latest.json's first)"}],
                "responses": {"200": {"description": "An event stream, one event per article, id = its key",
                                      "content": {"text/event-stream": {"schema": {"type": "string"}}}},
                              "400": error},
            }},
            "/api/sources": {"get": {
                "summary": "The configured sources and their health",
                "responses": {"200": {"description": "One entry per source", "content": {
                    "application/json": {"schema": {"type": "array", "items": {"type": "object"}}}}}},
            }},
        },
    }
