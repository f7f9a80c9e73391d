# Placeholder owned by the regulator issue (#7): its schema changes go here.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("numbers", "0005_sales")]
    operations = []
