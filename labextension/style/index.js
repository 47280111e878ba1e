import './base.css';
import './drive.css';
