# Owned by the regulator issue (#7): the oversight permissions, and the roles synced to them.
from django.db import migrations

from numbers.roles import sync_roles


class Migration(migrations.Migration):
    dependencies = [("numbers", "0005_sales")]

    operations = [
        migrations.AlterModelOptions(
            name="riskmark",
            options={
                "ordering": ["-placed_at"],
                "permissions": [
                    ("view_dashboard", "Can view the oversight dashboard"),
                    ("export_csv", "Can export admin lists as CSV"),
                ],
                "verbose_name": "risk mark",
                "verbose_name_plural": "risk marks",
            },
        ),
        migrations.RunPython(sync_roles, migrations.RunPython.noop),
    ]
