"""network

Revision ID: 0006
Revises: 0002
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('network_networks',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('admin_state_up', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('shared', sa.Boolean(), nullable=False),
    sa.Column('external', sa.Boolean(), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('mtu', sa.Integer(), nullable=False),
    sa.Column('port_security_enabled', sa.Boolean(), nullable=False),
    sa.Column('network_type', sa.String(length=16), nullable=False),
    sa.Column('physical_network', sa.String(length=64), nullable=True),
    sa.Column('segmentation_id', sa.Integer(), nullable=True),
    sa.Column('availability_zone_hints', sa.JSON(), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('revision_number', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('network_networks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_network_networks_project_id'), ['project_id'], unique=False)

    op.create_table('network_security_groups',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('stateful', sa.Boolean(), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('revision_number', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('network_security_groups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_network_security_groups_project_id'), ['project_id'], unique=False)

    op.create_table('network_subnetpools',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('ip_version', sa.Integer(), nullable=False),
    sa.Column('prefixes', sa.JSON(), nullable=False),
    sa.Column('default_prefixlen', sa.Integer(), nullable=False),
    sa.Column('min_prefixlen', sa.Integer(), nullable=False),
    sa.Column('max_prefixlen', sa.Integer(), nullable=False),
    sa.Column('shared', sa.Boolean(), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('default_quota', sa.Integer(), nullable=True),
    sa.Column('address_scope_id', sa.String(length=64), nullable=True),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('revision_number', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('network_subnetpools', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_network_subnetpools_project_id'), ['project_id'], unique=False)

    op.create_table('network_default_security_groups',
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('security_group_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['security_group_id'], ['network_security_groups.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id')
    )
    op.create_table('network_floating_ips',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('floating_network_id', sa.String(length=64), nullable=False),
    sa.Column('floating_ip_address', sa.String(length=64), nullable=False),
    sa.Column('floating_port_id', sa.String(length=64), nullable=False),
    sa.Column('port_id', sa.String(length=64), nullable=True),
    sa.Column('fixed_ip_address', sa.String(length=64), nullable=True),
    sa.Column('router_id', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('dns_name', sa.String(length=255), nullable=False),
    sa.Column('dns_domain', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('revision_number', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['floating_network_id'], ['network_networks.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('network_floating_ips', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_network_floating_ips_port_id'), ['port_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_network_floating_ips_project_id'), ['project_id'], unique=False)

    op.create_table('network_ports',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('network_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('mac_address', sa.String(length=32), nullable=False),
    sa.Column('admin_state_up', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('device_id', sa.String(length=255), nullable=False),
    sa.Column('device_owner', sa.String(length=255), nullable=False),
    sa.Column('port_security_enabled', sa.Boolean(), nullable=False),
    sa.Column('security_group_ids', sa.JSON(), nullable=False),
    sa.Column('allowed_address_pairs', sa.JSON(), nullable=False),
    sa.Column('binding_host_id', sa.String(length=255), nullable=False),
    sa.Column('binding_vnic_type', sa.String(length=32), nullable=False),
    sa.Column('binding_profile', sa.JSON(), nullable=False),
    sa.Column('binding_vif_type', sa.String(length=32), nullable=False),
    sa.Column('binding_vif_details', sa.JSON(), nullable=False),
    sa.Column('extra_dhcp_opts', sa.JSON(), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('revision_number', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['network_id'], ['network_networks.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('network_id', 'mac_address')
    )
    with op.batch_alter_table('network_ports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_network_ports_device_id'), ['device_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_network_ports_network_id'), ['network_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_network_ports_project_id'), ['project_id'], unique=False)

    op.create_table('network_routers',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('admin_state_up', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('gateway_network_id', sa.String(length=64), nullable=True),
    sa.Column('gateway_port_id', sa.String(length=64), nullable=True),
    sa.Column('enable_snat', sa.Boolean(), nullable=False),
    sa.Column('routes', sa.JSON(), nullable=False),
    sa.Column('distributed', sa.Boolean(), nullable=False),
    sa.Column('ha', sa.Boolean(), nullable=False),
    sa.Column('availability_zone_hints', sa.JSON(), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('revision_number', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['gateway_network_id'], ['network_networks.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('network_routers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_network_routers_project_id'), ['project_id'], unique=False)

    op.create_table('network_security_group_rules',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('security_group_id', sa.String(length=64), nullable=False),
    sa.Column('direction', sa.String(length=8), nullable=False),
    sa.Column('ethertype', sa.String(length=8), nullable=False),
    sa.Column('protocol', sa.String(length=40), nullable=True),
    sa.Column('port_range_min', sa.Integer(), nullable=True),
    sa.Column('port_range_max', sa.Integer(), nullable=True),
    sa.Column('remote_ip_prefix', sa.String(length=64), nullable=True),
    sa.Column('remote_group_id', sa.String(length=64), nullable=True),
    sa.Column('remote_address_group_id', sa.String(length=64), nullable=True),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('revision_number', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['security_group_id'], ['network_security_groups.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('network_security_group_rules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_network_security_group_rules_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_network_security_group_rules_security_group_id'), ['security_group_id'], unique=False)

    op.create_table('network_segments',
    sa.Column('network_id', sa.String(length=64), nullable=False),
    sa.Column('network_type', sa.String(length=16), nullable=False),
    sa.Column('physical_network', sa.String(length=64), nullable=False),
    sa.Column('segmentation_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['network_id'], ['network_networks.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('network_id'),
    sa.UniqueConstraint('network_type', 'physical_network', 'segmentation_id')
    )
    op.create_table('network_subnets',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('network_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('ip_version', sa.Integer(), nullable=False),
    sa.Column('cidr', sa.String(length=64), nullable=False),
    sa.Column('gateway_ip', sa.String(length=64), nullable=True),
    sa.Column('enable_dhcp', sa.Boolean(), nullable=False),
    sa.Column('ipv6_ra_mode', sa.String(length=32), nullable=True),
    sa.Column('ipv6_address_mode', sa.String(length=32), nullable=True),
    sa.Column('subnetpool_id', sa.String(length=64), nullable=True),
    sa.Column('dns_nameservers', sa.JSON(), nullable=False),
    sa.Column('host_routes', sa.JSON(), nullable=False),
    sa.Column('allocation_pools', sa.JSON(), nullable=False),
    sa.Column('service_types', sa.JSON(), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('revision_number', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['network_id'], ['network_networks.id'], ),
    sa.ForeignKeyConstraint(['subnetpool_id'], ['network_subnetpools.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('network_subnets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_network_subnets_network_id'), ['network_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_network_subnets_project_id'), ['project_id'], unique=False)

    op.create_table('network_ip_allocations',
    sa.Column('subnet_id', sa.String(length=64), nullable=False),
    sa.Column('ip_address', sa.String(length=64), nullable=False),
    sa.Column('port_id', sa.String(length=64), nullable=False),
    sa.Column('network_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['port_id'], ['network_ports.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subnet_id'], ['network_subnets.id'], ),
    sa.PrimaryKeyConstraint('subnet_id', 'ip_address')
    )
    with op.batch_alter_table('network_ip_allocations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_network_ip_allocations_network_id'), ['network_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_network_ip_allocations_port_id'), ['port_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('network_ip_allocations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_network_ip_allocations_port_id'))
        batch_op.drop_index(batch_op.f('ix_network_ip_allocations_network_id'))

    op.drop_table('network_ip_allocations')
    with op.batch_alter_table('network_subnets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_network_subnets_project_id'))
        batch_op.drop_index(batch_op.f('ix_network_subnets_network_id'))

    op.drop_table('network_subnets')
    op.drop_table('network_segments')
    with op.batch_alter_table('network_security_group_rules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_network_security_group_rules_security_group_id'))
        batch_op.drop_index(batch_op.f('ix_network_security_group_rules_project_id'))

    op.drop_table('network_security_group_rules')
    with op.batch_alter_table('network_routers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_network_routers_project_id'))

    op.drop_table('network_routers')
    with op.batch_alter_table('network_ports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_network_ports_project_id'))
        batch_op.drop_index(batch_op.f('ix_network_ports_network_id'))
        batch_op.drop_index(batch_op.f('ix_network_ports_device_id'))

    op.drop_table('network_ports')
    with op.batch_alter_table('network_floating_ips', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_network_floating_ips_project_id'))
        batch_op.drop_index(batch_op.f('ix_network_floating_ips_port_id'))

    op.drop_table('network_floating_ips')
    op.drop_table('network_default_security_groups')
    with op.batch_alter_table('network_subnetpools', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_network_subnetpools_project_id'))

    op.drop_table('network_subnetpools')
    with op.batch_alter_table('network_security_groups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_network_security_groups_project_id'))

    op.drop_table('network_security_groups')
    with op.batch_alter_table('network_networks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_network_networks_project_id'))

    op.drop_table('network_networks')
