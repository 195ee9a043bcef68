import os
import os.path as osp
import shutil
import sys
from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))
MIM_FILES = ['configs', 'tools', 'model-index.yml']


def read_version() -> str:
    scope: dict = {}
    with open(osp.join(HERE, 'mmdet_losses', 'version.py')) as f:
        exec(compile(f.read(), 'version.py', 'exec'), scope)
    return scope['__version__']


def read_requirements(name: str) -> list:
    with open(osp.join(HERE, 'requirements', name)) as f:
        lines = (line.split('#')[0].strip() for line in f)
        return [line for line in lines if line and not line.startswith('-')]


def add_mim_extension() -> None:
    """Ship configs/, tools/ and model-index.yml in ``mmdet_losses/.mim``,
    as OpenMMLab packages do, so ``_base_ = 'mmdet_losses::...'`` works
    wherever the package is installed. An editable install links them
    (edits show at once); a wheel copies them."""
    editable = any(cmd in sys.argv for cmd in ('develop', 'editable_wheel'))
    mim_dir = osp.join(HERE, 'mmdet_losses', '.mim')
    os.makedirs(mim_dir, exist_ok=True)
    for name in MIM_FILES:
        src = osp.join(HERE, name)
        dst = osp.join(mim_dir, name)
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if not osp.exists(src):
            continue
        if editable:
            os.symlink(osp.relpath(src, mim_dir), dst)
        elif osp.isdir(src):
            shutil.copytree(src, dst)
        else:
            shutil.copyfile(src, dst)


if __name__ == '__main__':
    add_mim_extension()
    setup(
        name='mmdet_losses',
        version=read_version(),
        description='Detection losses for MMDetection 3.x: IoU family, '
        'Generalized Focal Loss, YOLOv1, PIoU and CSL',
        long_description=open(osp.join(HERE, 'README.md')).read(),
        long_description_content_type='text/markdown',
        license='Apache License 2.0',
        python_requires='>=3.8',
        packages=find_packages(include=['mmdet_losses', 'mmdet_losses.*']),
        include_package_data=True,
        package_data={
            'mmdet_losses': ['.mim/**/*', '.mim/*', 'functional/csrc/*.cpp']
        },
        install_requires=read_requirements('runtime.txt'),
        extras_require={
            'mim': read_requirements('mminstall.txt'),
            'tests': read_requirements('tests.txt'),
        },
        zip_safe=False)
