"""What the admin calls itself, and where "View site" leads (the service's front page, `/`)."""

from django.contrib import admin

admin.site.site_header = "Stars payments"
admin.site.site_title = "Stars payments"
admin.site.index_title = "Support desk"
admin.site.site_url = "/"
