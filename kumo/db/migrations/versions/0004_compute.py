"""compute

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('compute_flavors',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('ram', sa.Integer(), nullable=False),
    sa.Column('vcpus', sa.Integer(), nullable=False),
    sa.Column('disk', sa.Integer(), nullable=False),
    sa.Column('ephemeral', sa.Integer(), nullable=False),
    sa.Column('swap', sa.Integer(), nullable=False),
    sa.Column('rxtx_factor', sa.Float(), nullable=False),
    sa.Column('is_public', sa.Boolean(), nullable=False),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('extra_specs', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('compute_instance_actions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('server_id', sa.String(length=64), nullable=False),
    sa.Column('request_id', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('start_time', sa.DateTime(), nullable=False),
    sa.Column('finish_time', sa.DateTime(), nullable=True),
    sa.Column('events', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('compute_instance_actions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_compute_instance_actions_request_id'), ['request_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_compute_instance_actions_server_id'), ['server_id'], unique=False)

    op.create_table('compute_keypairs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('public_key', sa.Text(), nullable=False),
    sa.Column('fingerprint', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'name')
    )
    with op.batch_alter_table('compute_keypairs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_compute_keypairs_user_id'), ['user_id'], unique=False)

    op.create_table('compute_servers',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('hostname', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('image_id', sa.String(length=64), nullable=False),
    sa.Column('flavor_id', sa.String(length=255), nullable=False),
    sa.Column('flavor', sa.JSON(), nullable=False),
    sa.Column('old_flavor', sa.JSON(), nullable=True),
    sa.Column('key_name', sa.String(length=255), nullable=True),
    sa.Column('key_data', sa.Text(), nullable=True),
    sa.Column('admin_pass', sa.String(length=255), nullable=True),
    sa.Column('user_data', sa.Text(), nullable=True),
    sa.Column('metadata', sa.JSON(), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('security_groups', sa.JSON(), nullable=False),
    sa.Column('networks', sa.JSON(), nullable=False),
    sa.Column('access_ipv4', sa.String(length=64), nullable=False),
    sa.Column('access_ipv6', sa.String(length=64), nullable=False),
    sa.Column('availability_zone', sa.String(length=255), nullable=False),
    sa.Column('config_drive', sa.String(length=16), nullable=False),
    sa.Column('vm_state', sa.String(length=32), nullable=False),
    sa.Column('task_state', sa.String(length=32), nullable=True),
    sa.Column('power_state', sa.Integer(), nullable=False),
    sa.Column('locked', sa.Boolean(), nullable=False),
    sa.Column('locked_by', sa.String(length=16), nullable=True),
    sa.Column('locked_reason', sa.String(length=255), nullable=True),
    sa.Column('host', sa.String(length=255), nullable=True),
    sa.Column('reservation_id', sa.String(length=32), nullable=False),
    sa.Column('launch_index', sa.Integer(), nullable=False),
    sa.Column('progress', sa.Integer(), nullable=False),
    sa.Column('fault', sa.JSON(), nullable=True),
    sa.Column('system_metadata', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('launched_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('compute_servers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_compute_servers_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_compute_servers_reservation_id'), ['reservation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_compute_servers_task_state'), ['task_state'], unique=False)
        batch_op.create_index(batch_op.f('ix_compute_servers_updated_at'), ['updated_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_compute_servers_vm_state'), ['vm_state'], unique=False)

    op.create_table('compute_flavor_access',
    sa.Column('flavor_id', sa.String(length=255), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['flavor_id'], ['compute_flavors.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('flavor_id', 'project_id')
    )
    op.create_table('compute_volume_attachments',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('server_id', sa.String(length=64), nullable=False),
    sa.Column('volume_id', sa.String(length=64), nullable=False),
    sa.Column('device', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('boot_index', sa.Integer(), nullable=True),
    sa.Column('delete_on_termination', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['server_id'], ['compute_servers.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('server_id', 'volume_id')
    )
    with op.batch_alter_table('compute_volume_attachments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_compute_volume_attachments_server_id'), ['server_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_compute_volume_attachments_volume_id'), ['volume_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('compute_volume_attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_compute_volume_attachments_volume_id'))
        batch_op.drop_index(batch_op.f('ix_compute_volume_attachments_server_id'))

    op.drop_table('compute_volume_attachments')
    op.drop_table('compute_flavor_access')
    with op.batch_alter_table('compute_servers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_compute_servers_vm_state'))
        batch_op.drop_index(batch_op.f('ix_compute_servers_updated_at'))
        batch_op.drop_index(batch_op.f('ix_compute_servers_task_state'))
        batch_op.drop_index(batch_op.f('ix_compute_servers_reservation_id'))
        batch_op.drop_index(batch_op.f('ix_compute_servers_project_id'))

    op.drop_table('compute_servers')
    with op.batch_alter_table('compute_keypairs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_compute_keypairs_user_id'))

    op.drop_table('compute_keypairs')
    with op.batch_alter_table('compute_instance_actions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_compute_instance_actions_server_id'))
        batch_op.drop_index(batch_op.f('ix_compute_instance_actions_request_id'))

    op.drop_table('compute_instance_actions')
    op.drop_table('compute_flavors')
