"""Content-Security-Policy on HTML pages (the admin and the API docs): CONTENT_SECURITY_POLICY.

Django 5.2 has no CSP support of its own. JSON answers (webhooks, the entitlements API) are not
documents a browser renders, so they go without.
"""

from django.conf import settings


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        policy = settings.CONTENT_SECURITY_POLICY
        if policy and response.get("Content-Type", "").startswith("text/html"):
            response.headers.setdefault("Content-Security-Policy", policy)
        return response
