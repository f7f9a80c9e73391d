# Placeholder owned by the sales-staff issue (#6): its schema changes (indexes) go here.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("numbers", "0004_feed")]
    operations = []
