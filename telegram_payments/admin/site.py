"""What the admin calls itself, where "View site" leads (the service's front page, `/`), and the
input check every admin page gets (no NUL in a search, filter or form: `check_admin_input`)."""

from django.contrib import admin

from payments_project.admin_mixins import check_admin_input

admin.site.site_header = "Stars payments"
admin.site.site_title = "Stars payments"
admin.site.index_title = "Support desk"
admin.site.site_url = "/"
admin.site.empty_value_display = "—"  # an empty value reads the same on every page (money.thousands, amount_text)
check_admin_input(admin.site)
