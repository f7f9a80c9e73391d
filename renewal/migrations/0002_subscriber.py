# Placeholder owned by the active-renewal issue (#5): SMS codes, unbind requests, harassment reports.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("renewal", "0001_initial")]
    operations = []
