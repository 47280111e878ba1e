import './base.css';
import './jobs.css';
import './drive.css';
import './notebooks.css';
import 'nbdime/lib/styles/variables.css';
import 'nbdime/lib/styles/common.css';
import 'nbdime/lib/styles/diff.css';
