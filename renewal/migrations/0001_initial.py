# Batch renewal: platforms, keys, recycle batches and deliveries (the one outbox); then the roles.

import django.db.models.deletion
import uuid
from django.db import migrations, models



class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('numbers', '0003_event_append_only'),
    ]

    operations = [
        migrations.CreateModel(
            name='Platform',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=100, unique=True, verbose_name='name')),
                ('category', models.CharField(choices=[('payment', 'payment'), ('banking', 'banking and finance'), ('social', 'social network'), ('messaging', 'messaging'), ('e-commerce', 'e-commerce'), ('government', 'government service'), ('travel', 'travel and transport'), ('food_delivery', 'food delivery and local services'), ('video', 'video and music'), ('gaming', 'gaming'), ('news', 'news and reading'), ('health', 'health'), ('education', 'education'), ('utilities', 'utilities and telecom'), ('number_tags', 'caller ID and number tags'), ('other', 'other')], max_length=20, verbose_name='category')),
                ('kind', models.CharField(choices=[('application', 'Internet application'), ('tag_provider', 'number-tag provider')], default='application', max_length=16, verbose_name='kind')),
                ('webhook_url', models.CharField(blank=True, help_text='HTTPS address that receives signed deliveries. Blank: pull-only (reads GET /api/v1/deliveries).', max_length=500, verbose_name='webhook URL')),
                ('status', models.CharField(choices=[('sandbox', 'sandbox'), ('live', 'live'), ('suspended', 'suspended')], default='sandbox', max_length=10, verbose_name='status')),
                ('signing_secret_encrypted', models.TextField(editable=False, verbose_name='signing secret (encrypted)')),
                ('previous_secret_encrypted', models.TextField(blank=True, editable=False, verbose_name='previous signing secret (encrypted)')),
                ('previous_secret_expires_at', models.DateTimeField(blank=True, editable=False, null=True, verbose_name='previous secret valid until')),
                ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='created at')),
            ],
            options={
                'verbose_name': 'platform',
                'verbose_name_plural': 'platforms',
                'ordering': ['name'],
                'permissions': [('rotate_secret', "Can rotate a platform's signing secret")],
                'constraints': [models.CheckConstraint(condition=models.Q(('status__in', ['sandbox', 'live', 'suspended'])), name='platform_status_valid'), models.CheckConstraint(condition=models.Q(('kind__in', ['application', 'tag_provider'])), name='platform_kind_valid')],
            },
        ),
        migrations.CreateModel(
            name='RecycleBatch',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('created_at', models.DateTimeField(verbose_name='created at')),
                ('size', models.PositiveIntegerField(default=0, verbose_name='numbers')),
                ('operator', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='recycle_batches', to='numbers.operator', verbose_name='range holder')),
            ],
            options={
                'verbose_name': 'recycle batch',
                'verbose_name_plural': 'recycle batches',
                'ordering': ['-created_at', '-id'],
            },
        ),
        migrations.CreateModel(
            name='BatchChunk',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('seq', models.PositiveIntegerField(verbose_name='sequence')),
                ('size', models.PositiveIntegerField(default=0, verbose_name='numbers')),
                ('deliveries_total', models.PositiveIntegerField(default=0, verbose_name='deliveries')),
                ('deliveries_done', models.PositiveIntegerField(default=0, verbose_name='deliveries confirmed or cancelled')),
                ('batch', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='chunks', to='renewal.recyclebatch')),
            ],
            options={
                'verbose_name': 'batch chunk',
                'verbose_name_plural': 'batch chunks',
                'ordering': ['batch', 'seq'],
            },
        ),
        migrations.CreateModel(
            name='BatchEntry',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('disconnected_at', models.DateTimeField(verbose_name='disconnected at')),
                ('release_not_before', models.DateTimeField(verbose_name='release not before')),
                ('chunk', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='entries', to='renewal.batchchunk')),
                ('cycle', models.OneToOneField(help_text='The holder period whose end began the recycling cycle.', on_delete=django.db.models.deletion.PROTECT, related_name='batch_entry', to='numbers.holderperiod')),
                ('number', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='batch_entries', to='numbers.phonenumber')),
            ],
            options={
                'verbose_name': 'batch entry',
                'verbose_name_plural': 'batch entries',
                'ordering': ['id'],
                'indexes': [models.Index(fields=['number', 'cycle'], name='entry_number_cycle')],
            },
        ),
        migrations.CreateModel(
            name='Delivery',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('event', models.CharField(choices=[('recycled_numbers.batch', 'recycled_numbers.batch'), ('unbind.request', 'unbind.request')], max_length=32, verbose_name='event')),
                ('state', models.CharField(choices=[('pending', 'pending'), ('sent', 'sent'), ('confirmed', 'confirmed'), ('dead', 'dead'), ('cancelled', 'cancelled')], default='pending', max_length=10, verbose_name='state')),
                ('attempts', models.PositiveIntegerField(default=0, verbose_name='attempts')),
                ('next_attempt_at', models.DateTimeField(blank=True, null=True, verbose_name='next attempt at')),
                ('claimed_until', models.DateTimeField(blank=True, editable=False, null=True, verbose_name='attempt in flight until')),
                ('last_error', models.TextField(blank=True, verbose_name='last error')),
                ('created_at', models.DateTimeField(verbose_name='created at')),
                ('sent_at', models.DateTimeField(blank=True, null=True, verbose_name='sent at')),
                ('confirmed_at', models.DateTimeField(blank=True, null=True, verbose_name='confirmed at')),
                ('confirmed_unbound', models.PositiveIntegerField(blank=True, null=True, verbose_name='unbound')),
                ('confirmed_not_found', models.PositiveIntegerField(blank=True, null=True, verbose_name='not found')),
                ('chunk', models.ForeignKey(blank=True, help_text='For recycled_numbers.batch deliveries.', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='deliveries', to='renewal.batchchunk')),
                ('operator', models.ForeignKey(blank=True, help_text='The operator whose numbers the delivery carries (its administrators may retry it).', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='deliveries', to='numbers.operator')),
                ('platform', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='deliveries', to='renewal.platform')),
            ],
            options={
                'verbose_name': 'delivery',
                'verbose_name_plural': 'deliveries',
                'ordering': ['created_at', 'id'],
                'permissions': [('retry_delivery', 'Can retry a dead delivery')],
                'indexes': [models.Index(fields=['state', 'next_attempt_at'], name='delivery_state_due'), models.Index(fields=['platform', 'created_at', 'id'], name='delivery_platform_page'), models.Index(fields=['chunk', 'state'], name='delivery_chunk_state')],
                'constraints': [models.CheckConstraint(condition=models.Q(('state__in', ['pending', 'sent', 'confirmed', 'dead', 'cancelled'])), name='delivery_state_valid'), models.CheckConstraint(condition=models.Q(models.Q(('event', 'recycled_numbers.batch'), ('chunk__isnull', False)), models.Q(('event', 'unbind.request'), ('chunk__isnull', True)), _connector='OR'), name='delivery_chunk_iff_batch')],
            },
        ),
        migrations.CreateModel(
            name='ApiKey',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(help_text="What the key is for, e.g. 'production'.", max_length=100, verbose_name='name')),
                ('prefix', models.CharField(db_index=True, editable=False, max_length=16, verbose_name='prefix')),
                ('key_hash', models.CharField(editable=False, max_length=64, unique=True, verbose_name='SHA-256')),
                ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='created at')),
                ('created_by', models.CharField(blank=True, editable=False, max_length=150, verbose_name='created by')),
                ('last_used_at', models.DateTimeField(blank=True, editable=False, null=True, verbose_name='last used')),
                ('revoked_at', models.DateTimeField(blank=True, editable=False, null=True, verbose_name='revoked at')),
                ('operator', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='api_keys', to='numbers.operator')),
                ('platform', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='api_keys', to='renewal.platform')),
            ],
            options={
                'verbose_name': 'API key',
                'verbose_name_plural': 'API keys',
                'ordering': ['-created_at'],
                'constraints': [models.CheckConstraint(condition=models.Q(models.Q(('operator__isnull', True), ('platform__isnull', False)), models.Q(('operator__isnull', False), ('platform__isnull', True)), _connector='OR'), name='apikey_one_owner')],
            },
        ),
        migrations.AddConstraint(
            model_name='batchchunk',
            constraint=models.UniqueConstraint(fields=('batch', 'seq'), name='chunk_seq_unique'),
        ),
        migrations.AddConstraint(
            model_name='batchchunk',
            constraint=models.CheckConstraint(condition=models.Q(('deliveries_done__lte', models.F('deliveries_total'))), name='chunk_done_le_total'),
        ),
        migrations.AddConstraint(
            model_name='delivery',
            constraint=models.UniqueConstraint(fields=('chunk', 'platform'), name='delivery_chunk_platform_unique'),
        ),
    ]
