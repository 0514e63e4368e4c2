"""networking-sfc: flow classifiers, port pairs, port pair groups, port chains, service graphs

Revision ID: 0008
Revises: 0006
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sfc_flow_classifiers',
    sa.Column('ethertype', sa.String(length=8), nullable=False),
    sa.Column('protocol', sa.String(length=8), nullable=True),
    sa.Column('source_port_range_min', sa.Integer(), nullable=True),
    sa.Column('source_port_range_max', sa.Integer(), nullable=True),
    sa.Column('destination_port_range_min', sa.Integer(), nullable=True),
    sa.Column('destination_port_range_max', sa.Integer(), nullable=True),
    sa.Column('source_ip_prefix', sa.String(length=64), nullable=True),
    sa.Column('destination_ip_prefix', sa.String(length=64), nullable=True),
    sa.Column('logical_source_port', sa.String(length=64), nullable=True),
    sa.Column('logical_destination_port', sa.String(length=64), nullable=True),
    sa.Column('l7_parameters', sa.JSON(), nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['logical_destination_port'], ['network_ports.id'], ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['logical_source_port'], ['network_ports.id'], ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('sfc_flow_classifiers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sfc_flow_classifiers_logical_destination_port'), ['logical_destination_port'], unique=False)
        batch_op.create_index(batch_op.f('ix_sfc_flow_classifiers_logical_source_port'), ['logical_source_port'], unique=False)
        batch_op.create_index(batch_op.f('ix_sfc_flow_classifiers_project_id'), ['project_id'], unique=False)

    op.create_table('sfc_port_chains',
    sa.Column('chain_id', sa.Integer(), nullable=False),
    sa.Column('port_pair_groups', sa.JSON(), nullable=False),
    sa.Column('flow_classifiers', sa.JSON(), nullable=False),
    sa.Column('chain_parameters', sa.JSON(), nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('chain_id')
    )
    with op.batch_alter_table('sfc_port_chains', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sfc_port_chains_project_id'), ['project_id'], unique=False)

    op.create_table('sfc_port_pair_groups',
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('tap_enabled', sa.Boolean(), nullable=False),
    sa.Column('port_pairs', sa.JSON(), nullable=False),
    sa.Column('port_pair_group_parameters', sa.JSON(), nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('group_id')
    )
    with op.batch_alter_table('sfc_port_pair_groups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sfc_port_pair_groups_project_id'), ['project_id'], unique=False)

    op.create_table('sfc_port_pairs',
    sa.Column('ingress', sa.String(length=64), nullable=False),
    sa.Column('egress', sa.String(length=64), nullable=False),
    sa.Column('service_function_parameters', sa.JSON(), nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['egress'], ['network_ports.id'], ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['ingress'], ['network_ports.id'], ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('ingress', 'egress')
    )
    with op.batch_alter_table('sfc_port_pairs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sfc_port_pairs_egress'), ['egress'], unique=False)
        batch_op.create_index(batch_op.f('ix_sfc_port_pairs_ingress'), ['ingress'], unique=False)
        batch_op.create_index(batch_op.f('ix_sfc_port_pairs_project_id'), ['project_id'], unique=False)

    op.create_table('sfc_service_graphs',
    sa.Column('port_chains', sa.JSON(), nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('sfc_service_graphs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sfc_service_graphs_project_id'), ['project_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sfc_service_graphs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sfc_service_graphs_project_id'))
    op.drop_table('sfc_service_graphs')
    with op.batch_alter_table('sfc_port_pairs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sfc_port_pairs_project_id'))
        batch_op.drop_index(batch_op.f('ix_sfc_port_pairs_ingress'))
        batch_op.drop_index(batch_op.f('ix_sfc_port_pairs_egress'))
    op.drop_table('sfc_port_pairs')
    with op.batch_alter_table('sfc_port_pair_groups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sfc_port_pair_groups_project_id'))
    op.drop_table('sfc_port_pair_groups')
    with op.batch_alter_table('sfc_port_chains', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sfc_port_chains_project_id'))
    op.drop_table('sfc_port_chains')
    with op.batch_alter_table('sfc_flow_classifiers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sfc_flow_classifiers_project_id'))
        batch_op.drop_index(batch_op.f('ix_sfc_flow_classifiers_logical_source_port'))
        batch_op.drop_index(batch_op.f('ix_sfc_flow_classifiers_logical_destination_port'))
    op.drop_table('sfc_flow_classifiers')
