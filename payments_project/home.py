"""The service's front page (`/`, the admin's "View site"): what this is and where to go."""

from django.conf import settings
from django.template.response import TemplateResponse


def home(request):
    return TemplateResponse(request, "home.html", {"title": settings.SPECTACULAR_SETTINGS["TITLE"]})
