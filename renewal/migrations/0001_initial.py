# Placeholder owned by the batch-renewal issue (#4): platforms, keys, deliveries, batches.
from django.db import migrations


class Migration(migrations.Migration):
    initial = True
    dependencies = [("numbers", "0003_event_append_only")]
    operations = []
