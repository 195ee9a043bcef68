"""The tables tools/reproduce_gfl_ablation.py reproduces: data only.

Each table: ``title``; ``paper_source`` (the sentence under the table
naming where the "paper" column comes from); ``rows``, each a ``name``, a
``config`` (relative to the repository root) and the ``paper``'s numbers
(metric -> value in %, only those the paper gives); ``claims``, each
``(text, better row, worse row)``: the paper's claim that the first row
beats the second. Optional: ``same_setting`` (False: the paper's numbers
are for another detector or dataset, shown for the sign of differences
only; default True), ``metrics`` (column -> key the evaluator logs, a value
in [0, 1]; the first is the main metric; default COCO's AP, AP50, AP75)
and ``metric_note`` (how the metrics read, under the table).

Sources: GFL paper (Li et al., NeurIPS 2020, arXiv:2006.04388 v1), Tables
3, 1(c), 2(b), 2(c); DIoU paper (Zheng et al., AAAI 2020, arXiv:1911.08287)
YOLOv3 on VOC07 test; mmrotate 1.x model zoo, DOTA-v1.0.
"""
GFL = 'configs/gfl/gfl_r50_fpn_1x_coco.py'
ATSS_QFL = 'configs/atss/atss_r50_fpn_qfl_1x_coco.py'
ABLATIONS = 'configs/gfl/ablations/'
ROTATED_QUICKSTART = 'configs/quickstart/rotated-retinanet-rbox-le90_r18_fpn'

COCO_SOURCE = ('GFL paper (arXiv:2006.04388 v1), R-50, 1x, COCO minival; '
               'AP50 / AP75 only where the paper gives them.')
BCCD_SOURCE = (
    'The "paper" column is the paper\'s COCO number for the same row '
    '(R-50, 1x): a different detector size and dataset, shown for the '
    'sign of the differences, not their size.')
DIOU_SOURCE = (
    'The "paper" column is the DIoU paper\'s (arXiv:1911.08287) YOLOv3 '
    'on VOC07 test: a different detector and dataset, shown for the '
    'sign of the differences, not their size.')
ROTATED_SOURCE = (
    'The "paper" column is mmrotate 1.x\'s DOTA-v1.0 mAP of the same '
    'loss on rotated RetinaNet (R-50, 1x, le90): a different detector '
    'size and dataset, shown for the sign of the differences, not '
    'their size. No RetinaNet + PIoU number has been published.')

# GFL Table 3 (QFL + DFL: AP50 58.6, AP75 43.4)
GFL_PAPER = dict(AP=40.2, AP50=58.6, AP75=43.4)
TABLE3_CLAIMS = [
    ('QFL > FL (+ centerness), Dirac boxes', 'QFL', 'neither'),
    ('QFL > FL (+ centerness), general boxes + DFL', 'QFL + DFL', 'DFL'),
    ('DFL > Dirac, FL + centerness', 'DFL', 'neither'),
    ('DFL > Dirac, QFL', 'QFL + DFL', 'QFL'),
    ('both > neither (GFL > ATSS)', 'QFL + DFL', 'neither'),
]

TABLES = {
    'table3':
    dict(
        title='GFL paper Table 3: QFL and DFL on ATSS',
        paper_source=COCO_SOURCE,
        rows=[
            ('neither', 'configs/atss/atss_r50_fpn_1x_coco.py', dict(AP=39.2)),
            ('QFL', ATSS_QFL, dict(AP=39.9)),
            ('DFL', ABLATIONS + 'atss_r50_fpn_dfl_1x_coco.py', dict(AP=39.5)),
            ('QFL + DFL', GFL, GFL_PAPER),
        ],
        claims=TABLE3_CLAIMS),
    'table1c':
    dict(
        title='GFL paper Table 1(c): QFL beta, ATSS with QFL',
        paper_source=COCO_SOURCE,
        rows=[
            ('beta = 0', ABLATIONS + 'atss_r50_fpn_qfl-beta0_1x_coco.py',
             dict(AP=37.6)),
            ('beta = 1', ABLATIONS + 'atss_r50_fpn_qfl-beta1_1x_coco.py',
             dict(AP=39.0)),
            ('beta = 2', ATSS_QFL, dict(AP=39.9)),
            ('beta = 2.5', ABLATIONS + 'atss_r50_fpn_qfl-beta2.5_1x_coco.py',
             dict(AP=39.7)),
            ('beta = 4', ABLATIONS + 'atss_r50_fpn_qfl-beta4_1x_coco.py',
             dict(AP=38.2)),
        ],
        claims=[
            ('beta 2 > beta 0', 'beta = 2', 'beta = 0'),
            ('beta 2 > beta 4', 'beta = 2', 'beta = 4'),
        ]),
    'table2b':
    dict(
        title='GFL paper Table 2(b): n, bin interval 1',
        paper_source=COCO_SOURCE,
        rows=[
            ('n = 12', ABLATIONS + 'gfl_r50_fpn_n12_1x_coco.py',
             dict(AP=40.1)),
            ('n = 14', ABLATIONS + 'gfl_r50_fpn_n14_1x_coco.py',
             dict(AP=40.2)),
            ('n = 16', GFL, GFL_PAPER),
            ('n = 18', ABLATIONS + 'gfl_r50_fpn_n18_1x_coco.py',
             dict(AP=40.1)),
        ]),
    'table2c':
    dict(
        title='GFL paper Table 2(c): bin interval delta, n = 16',
        paper_source=COCO_SOURCE,
        rows=[
            ('delta = 0.5', ABLATIONS + 'gfl_r50_fpn_delta0.5_1x_coco.py',
             dict(AP=40.2)),
            ('delta = 1', GFL, GFL_PAPER),
            ('delta = 2', ABLATIONS + 'gfl_r50_fpn_delta2_1x_coco.py',
             dict(AP=39.9)),
            ('delta = 4', ABLATIONS + 'gfl_r50_fpn_delta4_1x_coco.py',
             dict(AP=39.8)),
        ],
        claims=[('delta 1 > delta 4', 'delta = 1', 'delta = 4')]),
    'bccd-table3':
    dict(
        title='BCCD proxy of GFL Table 3 (configs/bccd/)',
        paper_source=BCCD_SOURCE,
        rows=[
            ('neither', 'configs/bccd/atss_r18_fpn_bccd.py', dict(AP=39.2)),
            ('QFL', 'configs/bccd/atss_r18_fpn_qfl_bccd.py', dict(AP=39.9)),
            ('DFL', 'configs/bccd/atss_r18_fpn_dfl_bccd.py', dict(AP=39.5)),
            ('QFL + DFL', 'configs/bccd/gfl_r18_fpn_bccd.py', GFL_PAPER),
        ],
        claims=TABLE3_CLAIMS,
        same_setting=False),
    'bccd-iou':
    dict(
        title='BCCD IoU-loss comparison on GFL (configs/bccd/)',
        paper_source=DIOU_SOURCE,
        rows=[
            ('GIoU', 'configs/bccd/gfl_r18_fpn_bccd.py', dict(AP=47.73)),
            ('DIoU', 'configs/bccd/gfl_r18_fpn_diou_bccd.py', dict(AP=48.10)),
            ('CIoU', 'configs/bccd/gfl_r18_fpn_ciou_bccd.py', dict(AP=49.21)),
        ],
        claims=[
            ('CIoU >= GIoU', 'CIoU', 'GIoU'),
            ('DIoU >= GIoU', 'DIoU', 'GIoU'),
            ('CIoU >= DIoU', 'CIoU', 'DIoU'),
        ],
        same_setting=False),
    'rotated-quickstart':
    dict(
        title='mmrotate rotated RetinaNet quickstart: L1, PIoU and CSL '
        '(configs/quickstart/)',
        paper_source=ROTATED_SOURCE,
        rows=[
            ('L1', ROTATED_QUICKSTART + '_synthetic.py', dict(mAP50=68.42)),
            ('PIoU', ROTATED_QUICKSTART + '_piou_synthetic.py', {}),
            ('CSL', ROTATED_QUICKSTART + '_csl-gaussian_synthetic.py',
             dict(mAP50=69.51)),
            ('CSL, mmrotate coder',
             ROTATED_QUICKSTART + '_csl-gaussian-mmrotate_synthetic.py', {}),
        ],
        claims=[
            ('PIoU >= L1', 'PIoU', 'L1'),
            ('CSL >= L1', 'CSL', 'L1'),
        ],
        same_setting=False,
        metrics=dict(mAP50='dota/AP50'),
        metric_note='DOTA mAP at IoU 0.5, VOC07 11-point, in %'),
}
